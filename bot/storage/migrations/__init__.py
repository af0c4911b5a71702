"""Migrations of the bot app (generated with `tortoise makemigrations`)."""
