from pisteur.cli import main

main()
