set terminal pngcairo size 1800,620 enhanced font 'DejaVu Sans,11' linewidth 1.5
set output 'fidelity_vs_k.png'
set datafile missing 'nan'
set grid lc rgb '#dddddd'
set key outside below horizontal box opaque width 1 spacing 1.1 font ',10'
set xlabel offset 0,0.7
set multiplot layout 1,2 title 'Decoder fidelity against the skip rank k (test samples; lines: model, dashed: mean baseline, dotted: best rank-k linear map, dash-dot: digital shortcut)' font ',12'
set logscale x 2
set xlabel 'rank k of the skip coupling'
set ylabel 'paper cosine (global z-score)'
set yrange [*:1.002]
set lmargin at screen 0.050
set rmargin at screen 0.400
set tmargin at screen 0.9
set bmargin at screen 0.1
unset key
plot 'data/fid0.dat' using 1:2 with linespoints lc rgb '#08306b' pt 5 ps 0.8 dt 1 title 'paper, sde, theta 0.1', \
     'data/fid0.dat' using 1:4 with lines lc rgb '#1f77b4' dt 2 lw 1.2 title 'paper: mean baseline', \
     'data/fid0.dat' using 1:6 with lines lc rgb '#1f77b4' dt 3 lw 2 title 'paper: rank-k ceiling', \
     'data/fid0.dat' using 1:8 with lines lc rgb '#1f77b4' dt 4 lw 1.2 title 'paper: digital y = B^{-1} b_{dec}', \
     'data/fid1.dat' using 1:2 with linespoints lc rgb '#08306b' pt 5 ps 0.8 dt 1 title 'paper, sde, theta 0.01', \
     'data/fid2.dat' using 1:2 with linespoints lc rgb '#08306b' pt 5 ps 0.8 dt 1 title 'paper, sde, theta 1', \
     'data/fid3.dat' using 1:2 with linespoints lc rgb '#08306b' pt 5 ps 0.8 dt 1 title 'paper, sde, theta 10'
set ylabel 'centered cosine (minus fit-split mean)'
set yrange [-0.2:1.02]
set lmargin at screen 0.450
set rmargin at screen 0.800
set tmargin at screen 0.9
set bmargin at screen 0.1
set key at screen 0.815,0.9 left top vertical box opaque font ',9'
plot 'data/fid0.dat' using 1:3 with linespoints lc rgb '#08306b' pt 5 ps 0.8 dt 1 title 'paper, sde, theta 0.1', \
     'data/fid0.dat' using 1:5 with lines lc rgb '#1f77b4' dt 2 lw 1.2 title 'paper: mean baseline', \
     'data/fid0.dat' using 1:7 with lines lc rgb '#1f77b4' dt 3 lw 2 title 'paper: rank-k ceiling', \
     'data/fid0.dat' using 1:9 with lines lc rgb '#1f77b4' dt 4 lw 1.2 title 'paper: digital y = B^{-1} b_{dec}', \
     'data/fid1.dat' using 1:3 with linespoints lc rgb '#08306b' pt 5 ps 0.8 dt 1 title 'paper, sde, theta 0.01', \
     'data/fid2.dat' using 1:3 with linespoints lc rgb '#08306b' pt 5 ps 0.8 dt 1 title 'paper, sde, theta 1', \
     'data/fid3.dat' using 1:3 with linespoints lc rgb '#08306b' pt 5 ps 0.8 dt 1 title 'paper, sde, theta 10'
unset multiplot
