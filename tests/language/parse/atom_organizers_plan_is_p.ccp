scenario s "S": when organizer's plan is p then free
