plan payg { }
