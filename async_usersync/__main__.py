from async_usersync.cli.main import main

main()
