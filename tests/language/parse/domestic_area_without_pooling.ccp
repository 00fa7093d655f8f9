domestic area eu = DE FR
