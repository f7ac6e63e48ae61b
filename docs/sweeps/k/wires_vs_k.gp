set terminal pngcairo size 1000,640 enhanced font 'DejaVu Sans,11' linewidth 1.5
set output 'wires_vs_k.png'
set datafile missing 'nan'
set grid lc rgb '#dddddd'
set key outside below horizontal box opaque width 1 spacing 1.1 font ',10'
set xlabel offset 0,0.7
set title 'Physical wires of the skip coupling against the rank k' font ',12'
set xlabel 'rank k of the skip coupling'
set ylabel 'wire pairs (distinct node pairs joined by coupling elements)'
set format y '%.0s%c'
plot 'data/wires0.dat' using 1:2 with linespoints lc rgb '#1f77b4' pt 7 ps 0.7 title 'rank-k coupling (D = 64, sharedbus)', \
     'data/wires0.dat' using 1:3 with lines lc rgb '#1f77b4' dt 2 lw 1.5 title 'dense D^2 (D = 64)'
