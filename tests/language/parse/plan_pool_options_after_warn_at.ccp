plan p { pool d: 10 minutes per user, warn at 80%, not pooled }
