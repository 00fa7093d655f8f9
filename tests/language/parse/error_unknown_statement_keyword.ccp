zone z = US

rule r
