set terminal pngcairo size 1400,620 enhanced font 'DejaVu Sans,11' linewidth 1.5
set output 'time_vs_k_theta.png'
set datafile missing 'nan'
set grid lc rgb '#dddddd'
set key outside below horizontal box opaque width 1 spacing 1.1 font ',10'
set xlabel offset 0,0.7
set multiplot layout 1,2 title 'Time to solution per inference (circuit time: settling + averaging window)' font ',12'
set logscale y
set format y '%.0s %cs'
set ylabel 'time to solution'
set xlabel 'rank k'
set logscale x 2
plot 'data/time0.dat' using 1:2 with linespoints lc rgb '#1f77b4' pt 7 ps 0.7 title 'paper, theta 0.1, D 64, rc, sharedbus', \
     'data/time1.dat' using 1:2 with linespoints lc rgb '#d62728' pt 7 ps 0.7 title 'paper, theta 0.01, D 64, rc, sharedbus', \
     'data/time2.dat' using 1:2 with linespoints lc rgb '#2ca02c' pt 7 ps 0.7 title 'paper, theta 1, D 64, rc, sharedbus', \
     'data/time3.dat' using 1:2 with linespoints lc rgb '#9467bd' pt 7 ps 0.7 title 'paper, theta 10, D 64, rc, sharedbus'
set xlabel 'theta = k_BT/(C_u V_s^2)'
set logscale x 10
unset format x
plot 'data/time_theta.dat' index 0 using 1:2 with linespoints lc rgb '#1f77b4' pt 5 ps 0.8 title 'paper, k = 4', \
     'data/time_theta.dat' index 1 using 1:2 with linespoints lc rgb '#1f77b4' pt 7 ps 0.8 title 'paper, k = 16', \
     'data/time_theta.dat' index 2 using 1:2 with linespoints lc rgb '#1f77b4' pt 9 ps 0.8 title 'paper, k = 64'
unset multiplot
