# nothing here

   # at all
