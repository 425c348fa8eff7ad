from depin.cli import main

main()
