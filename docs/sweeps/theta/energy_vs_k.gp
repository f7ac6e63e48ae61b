set terminal pngcairo size 1100,640 enhanced font 'DejaVu Sans,11' linewidth 1.5
set output 'energy_vs_k.png'
set datafile missing 'nan'
set grid lc rgb '#dddddd'
set key outside below horizontal box opaque width 1 spacing 1.1 font ',10'
set xlabel offset 0,0.7
set multiplot layout 1,1 title 'Energy per inference (one decoder read-out) against k, stacked by term, beside one GPU U-Net step' font ',12'
set logscale x 2
set logscale y
set format y '10^{%L}'
set xlabel 'rank k'
set ylabel 'J per inference'
set yrange [1e-18:1]
set lmargin at screen 0.060
set rmargin at screen 0.600
set tmargin at screen 0.88
set bmargin at screen 0.1
set key at screen 0.660,0.88 left top vertical box opaque
set title 'paper, sde, theta 0.1'
plot 'data/energy0.dat' using 1:(1e-30):(0+abs($2)) with filledcurves fc rgb '#c6dbef' fs solid 0.9 border lc rgb '#555555' title '|E_{bias}|', \
     'data/energy0.dat' using 1:(0+abs($2)):(0+abs($2)+$3) with filledcurves fc rgb '#6baed6' fs solid 0.9 border lc rgb '#555555' title 'E_R (resistors)', \
     'data/energy0.dat' using 1:(0+abs($2)+$3):(0+abs($2)+$3+$4) with filledcurves fc rgb '#fdae6b' fs solid 0.9 border lc rgb '#555555' title 'E_{active} (transconductors)', \
     'data/energy0.dat' using 1:(0+abs($2)+$3+$4):(0+abs($2)+$3+$4+$5) with filledcurves fc rgb '#74c476' fs solid 0.9 border lc rgb '#555555' title 'E_{DAC}', \
     'data/energy0.dat' using 1:(0+abs($2)+$3+$4+$5):(0+abs($2)+$3+$4+$5+$6) with filledcurves fc rgb '#31a354' fs solid 0.9 border lc rgb '#555555' title 'E_{ADC}', \
     'data/energy0.dat' using 1:(0+abs($2)+$3+$4+$5+$6):(0+abs($2)+$3+$4+$5+$6+$7) with filledcurves fc rgb '#9e9ac8' fs solid 0.9 border lc rgb '#555555' title 'E_{digital} (interface MACs)', \
     'data/energy0.dat' using 1:8 with lines lc rgb 'black' lw 2 title 'GPU: one U-Net step (H100, batch 1)', \
     'data/energy0.dat' using 1:9 with lines lc rgb 'black' dt 2 lw 2 title 'GPU: the replaced part of the step', \
     'data/energy0.dat' using 1:10 with lines lc rgb '#d62728' dt 3 lw 2 title 'k_BT per unit per relaxation time'
unset multiplot
