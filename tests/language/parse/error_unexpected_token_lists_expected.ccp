zone z US
