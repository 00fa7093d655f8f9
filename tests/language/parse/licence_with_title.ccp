licence teams_phone "Teams Phone"
