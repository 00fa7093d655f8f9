role a
zone z =
# the countries
US
