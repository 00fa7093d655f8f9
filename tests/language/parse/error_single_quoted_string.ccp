role r
denial nope 'Not today.'
