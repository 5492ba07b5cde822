# results.gp - throughput, p99 latency and Gunicorn worker CPU per request of
# the configurations (the observer once per data plane), median of the rounds
# with min-max bars. bench.py runs it:
#   gnuplot -e "dat='...'; png='...'; n=5; titles='baseline observer-socket ...'"
# results.dat: workload, then for each of the n configurations req/s median
# min max, then p99 ms median min max, then worker CPU us/request median min max.
set terminal pngcairo size 1500,500 font "sans,10"
set output png
set multiplot layout 1,3 title "Gunicorn, 2 workers, hello world, wrk on loopback (median of rounds, bars: min-max)"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set key outside bottom center horizontal noenhanced
set title "throughput (requests/s, higher is better)"
plot for [i=1:n] dat using (column(3*i-1)):(column(3*i)):(column(3*i+1)):xtic(1) title word(titles, i)
set title "p99 latency (ms, lower is better)"
plot for [i=1:n] dat using (column(3*n+3*i-1)):(column(3*n+3*i)):(column(3*n+3*i+1)):xtic(1) title word(titles, i)
set title "Gunicorn worker CPU per request (us, lower is better)"
plot for [i=1:n] dat using (column(6*n+3*i-1)):(column(6*n+3*i)):(column(6*n+3*i+1)):xtic(1) title word(titles, i)
unset multiplot
