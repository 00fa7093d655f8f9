denial d "say \"no\" \\ or \q"
