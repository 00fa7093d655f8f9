zone z = US  # one
   CA # two
  GB
