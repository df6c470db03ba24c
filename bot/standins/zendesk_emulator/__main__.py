from bot.standins.zendesk_emulator.cli import main

raise SystemExit(main())
