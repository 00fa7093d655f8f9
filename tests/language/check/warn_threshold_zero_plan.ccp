# with base.ccp
plan q { pool x: 1 minutes per user, warn at 0% }
