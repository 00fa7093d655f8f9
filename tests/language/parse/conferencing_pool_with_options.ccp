conferencing pool za "Zone A": 60 minutes per audio_conferencing licence, tenant-wide, warn at 80%, 100%
