# a



# b
# c   
