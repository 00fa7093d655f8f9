# with base.ccp
denial nope "Again."
