conferencing pool za: 5 minutes per x license
