conferencing pool za: 60 minutes per x licence, warn at 80%, tenant-wide
