plan p {
