# results.gp - throughput and p99 latency of the four configurations, median
# of the rounds with min-max bars. bench.py runs it: gnuplot -e "dat='...'; png='...'"
set terminal pngcairo size 1200,500 font "sans,10"
set output png
set multiplot layout 1,2 title "Gunicorn, 2 workers, hello world, wrk on loopback (median of rounds, bars: min-max)"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set key outside bottom center horizontal
set title "throughput (requests/s, higher is better)"
plot dat using 2:3:4:xtic(1) title "baseline", \
     '' using 5:6:7 title "gunicorn-observer", \
     '' using 8:9:10 title "prometheus\\_client", \
     '' using 11:12:13 title "statsd"
set title "p99 latency (ms, lower is better)"
plot dat using 14:15:16:xtic(1) title "baseline", \
     '' using 17:18:19 title "gunicorn-observer", \
     '' using 20:21:22 title "prometheus\\_client", \
     '' using 23:24:25 title "statsd"
unset multiplot
