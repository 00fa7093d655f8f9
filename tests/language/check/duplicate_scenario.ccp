# with base.ccp
scenario a "Again": when inbound then free
