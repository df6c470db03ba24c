from bot.zendesk_emulator.cli import main

raise SystemExit(main())
