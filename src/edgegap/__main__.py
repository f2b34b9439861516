from edgegap.cli import main

main()
