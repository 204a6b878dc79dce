from fitelctl.launch import main

main()
