role BA
