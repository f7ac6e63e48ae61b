set terminal pngcairo size 1200,680 enhanced font 'DejaVu Sans,11' linewidth 1.5
set output 'frontier.png'
set datafile missing 'nan'
set grid lc rgb '#dddddd'
set multiplot title 'fidelity-energy frontier: 360 circuit points (sde), 4 on the Pareto set of fidelity, energy and time'
set logscale x
set yrange [-0.0210508:0.716589]
set ylabel 'centered cosine (circuit engine)'
set origin 0,0
set size 0.7,0.95
set xrange [2.65699e-08:8.62912e-07]
set xtics (1e-08, 2e-08, 5e-08, 1e-07, 2e-07, 5e-07, 1e-06, 2e-06, 5e-06)
set format x '%.0s %cJ'
set xlabel 'energy per inference E_{total} (J)'
set key bottom right box opaque
set arrow 1 from 1.584592e-07, graph 0 to 1.584592e-07, graph 1 nohead lc rgb '#1f77b4' dt 2 lw 2
set label 1 'digital equivalent' at 1.584592e-07, graph 0.5 right rotate by 90 offset -1.0,0 tc rgb '#1f77b4'
set arrow 2 from graph 0, first 0.6353927714 to graph 1, first 0.6353927714 nohead lc rgb '#2ca02c' dt 4 lw 2
set label 2 'analytic equilibrium' at graph 0.02, first 0.6353927714 offset 0,0.7 tc rgb '#2ca02c'
plot 'frontier.dat' using ($6 == 1 ? 1/0 : $1):2 with points pt 7 ps 0.6 lc rgb '#aaaaaa' title 'ADC averaging (readout\_stage none)', \
     '' using ($6 == 1 ? $1 : 1/0):2 with points pt 8 ps 0.8 lc rgb '#17becf' title 'analog read-out (readout\_stage rc)', \
     '' using ($3 == 1 ? $1 : 1/0):2 with points pt 7 ps 0.9 lc rgb '#000000' title 'Pareto set (fidelity, energy, time)', \
     'frontier_front.dat' using 1:2 with steps lw 2 lc rgb '#000000' title 'best fidelity at each energy', \
     'frontier.dat' using ($4 == 1 ? $1 : 1/0):2 with points pt 6 ps 2.0 lw 2 lc rgb '#9467bd' title "theta = 1 (the paper's kT = 1)"
unset arrow
unset label
unset ylabel
unset key
set format y ''
set origin 0.7,0
set size 0.3,0.95
set xrange [1.32849e-08:0.156]
set xtics 1e-9,1e3
set format x '10^{%L}'
set xlabel 'E (J), to the GPU'
set arrow 1 from 1.584592e-07, graph 0 to 1.584592e-07, graph 1 nohead lc rgb '#1f77b4' dt 2 lw 2
set arrow 2 from 0.052, graph 0 to 0.052, graph 1 nohead lc rgb '#d62728' dt 2 lw 2
set label 2 'GPU, whole U-Net step' at 0.052, graph 0.5 right rotate by 90 offset 1.3,0 tc rgb '#d62728'
set arrow 3 from 0.01638, graph 0 to 0.01638, graph 1 nohead lc rgb '#ff7f0e' dt 3 lw 2
set label 3 'GPU, replaced part' at 0.01638, graph 0.5 right rotate by 90 offset -1.0,0 tc rgb '#ff7f0e'
plot 'frontier.dat' using 1:2 with points pt 7 ps 0.6 lc rgb '#aaaaaa' notitle
unset multiplot
