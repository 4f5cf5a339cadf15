from sentinet.cli.main import main

main()
