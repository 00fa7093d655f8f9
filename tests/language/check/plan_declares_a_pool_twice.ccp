# with base.ccp
plan q { pool x: 1 minutes per user pool x: 2 minutes per user }
