scenario s "S": when organizer has calling plan then free
