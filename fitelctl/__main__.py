from fitelctl.cli import main

main()
