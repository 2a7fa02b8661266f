package postgres

// Migrations are the shipped migrations, for tests that build a table as
// an older build left it.
var Migrations = migrations
