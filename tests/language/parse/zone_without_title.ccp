zone z = DE
