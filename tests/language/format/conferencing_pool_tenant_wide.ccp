conferencing pool c: 5 minutes per a license
conferencing pool zone_a "Audio Conferencing dial-out minutes (Zone A)": 60 minutes per audio_conferencing licence, warn at 80%, 100%
