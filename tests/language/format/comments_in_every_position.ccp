# file header
#

# section: places


# about z
zone z = US CA   # trailing on a one-liner
zone y = GB
# between grouped declarations
zone x = FR

plan p "P" {   # on the plan's header
  # above the first pool
  pool d: 10 minutes per user  # on a pool
  # after the last pool
}   # after the closing brace
scenario s "S":   # on the scenario's header
    # above when
    when outbound and
      # inside the condition
      from user   # inside too
    # above the guard
    deny d unless user has a
    then free
# stuck to the next statement
notify a to b
# at the end
