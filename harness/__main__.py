from diffclust.cli import main

main()
