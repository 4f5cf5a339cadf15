from sentinet.cli import main

main()
