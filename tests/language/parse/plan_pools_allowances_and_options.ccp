plan p "P" {
    pool domestic: 3000 minutes per user in na, 1200 elsewhere, warn at 50%, 90%
    pool intl: 600 minutes per user, not pooled
    pool other: 10 minutes per user elsewhere
}
