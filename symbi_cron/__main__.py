from symbi_cron.cli import main

main()
