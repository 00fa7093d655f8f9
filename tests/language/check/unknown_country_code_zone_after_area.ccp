# with base.ccp
domestic area q = DE FR, FR pooled with DE
zone w = DE XY
