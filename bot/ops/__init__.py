"""Operating the bot: logs (with secrets redacted), metrics and health, progress on a terminal."""
