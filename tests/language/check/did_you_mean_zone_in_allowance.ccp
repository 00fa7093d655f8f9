# with base.ccp
plan q { pool x: 1 minutes per user in zz, 3 elsewhere }
