* tdi-gen standalone netlist: thermodynamic diffusion inference substrate (HSPICE)
* preset example | bundle build/example/substrate (hash 8d7d2690a9584745, mode synthetic) | config configs/example-rc-hspice.yaml (circuit hash 3010984a8e18033e)
* D = 4 per module (N = 8 units), k = 2 | unit rc | intra lowrank (rank 4, 4) | skip sharedbus
* wire pairs: intra_enc 16, intra_dec 16, skip 16 (dense skip D^2 = 16, ratio 1); total 48 pairs, 114 coupling elements
* physics: tau = Cu/gu = 1e-06 s, theta = kB T/(Cu Vs^2) = 0.1, kT/C = 4.14195e-09 V^2 (6.4358e-05 V rms), Vs = 0.000203518 V/unit
* lambda(M) in [0.134682, 1.86699]; slowest relaxation 7.42487e-06 s, fastest 5.35622e-07 s; noise interval 2.67811e-08 s
* per sample: settle 5.12892e-05 s then average 0.00148497 s; 2 sample(s) from t = 0 (nodes start at 0 V: uic)
* nodes: x0..x3 encoder, y0..y3 decoder (volts = Vs * state)
* run: hspice <this file>; the .measure results avg_<node>_s<n> (time average, V) and rms_<node>_s<n> per sample go to <this file's base name>.mt0
* expected (equilibrium mean Vs*(M^-1 b)_i, std of the average, std of the node) per read-out node and sample:
*   avg_y0_s0 = 0.000283378 V  +- 1.12e-05 V (readout std)  node std 0.000138 V
*   avg_y1_s0 = 0.000799132 V  +- 1.2e-05 V (readout std)  node std 0.000134 V
*   avg_y2_s0 = -0.000515688 V  +- 8.18e-06 V (readout std)  node std 9.79e-05 V
*   avg_y3_s0 = -9.49859e-05 V  +- 1.15e-05 V (readout std)  node std 0.00014 V
*   avg_y0_s1 = -0.00136786 V  +- 1.12e-05 V (readout std)  node std 0.000138 V
*   avg_y1_s1 = -0.000270152 V  +- 1.2e-05 V (readout std)  node std 0.000134 V
*   avg_y2_s1 = -0.000324882 V  +- 8.18e-06 V (readout std)  node std 9.79e-05 V
*   avg_y3_s1 = -0.00040075 V  +- 1.15e-05 V (readout std)  node std 0.00014 V
* hierarchy (circuit.hier): one .subckt per module (ports: its units' nodes; inside: unit instances, self terms, intra couplings) and per coupling (ports: the unit nodes it touches; inside: its bus nodes, v(<instance>.<bus>))
*   mod_enc = module enc: units x0..x3, U-Net level 1 encoder (intra lowrank); instance Xm_enc
*   mod_dec = module dec: units y0..y3, U-Net level 1 decoder (read out) (intra lowrank); instance Xm_dec
*   cpl_skip = coupling skip between modules enc and dec (sharedbus, rank 2); instance Xc_skip
* values (circuit.param): conductances {m*gu}, resistors {1/(m*gu)}, biases {b*gu*Vs} with m, b in simulation units; edit Cu, gu, Vs or Tk here and every element follows. Times (.tran, windows, nt) are absolute: after a change of tau = Cu/gu regenerate them with tdi-gen
.param Cu=1e-12 gu=1e-06 Vs=0.000203517738784608 Tk=300 kB=1.380649e-23
.param tau='Cu/gu' theta='kB*Tk/(Cu*Vs*Vs)' nt=2.67810793089624e-08 gn='gu*1' na='sqrt(2*kB*Tk*gn/nt)'
.subckt unit_rc x
C1 x 0 'Cu'
.ends unit_rc
* --- module enc: 4 units
.subckt mod_enc
+ x0 x1 x2 x3
Xx0 x0 unit_rc
Xx1 x1 unit_rc
Xx2 x2 unit_rc
Xx3 x3 unit_rc
* --- self terms: conductance gu*M_ii (after bus corrections) to ground (resistor): 8 elements, 0 wire pairs, 0 bus nodes (all modules; this module's below)
Rx0 x0 0 '1/(0.2*gu)'
Rx1 x1 0 '1/(0.2*gu)'
Rx2 x2 0 '1/(0.2*gu)'
Rx3 x3 0 '1/(0.2*gu)'
* --- intra-module couplings, encoder (lowrank, rank 4): 36 elements, 16 wire pairs, 4 bus nodes
Rux0 ux0 0 '1/(1*gu)'
Gux0_x0 0 ux0 x0 0 '-0.529004875971872*gu'
Gux0_x1 0 ux0 x1 0 '-0.240442196715431*gu'
Gux0_x2 0 ux0 x2 0 '-0.434491786455126*gu'
Gux0_x3 0 ux0 x3 0 '0.688155708208307*gu'
Gx0_ux0 x0 0 ux0 0 '-0.862929488341473*gu'
Gx1_ux0 x1 0 ux0 0 '-0.392216917483344*gu'
Gx2_ux0 x2 0 ux0 0 '-0.708756746873975*gu'
Gx3_ux0 x3 0 ux0 0 '1.12254136049784*gu'
Rux1 ux1 0 '1/(1*gu)'
Gux1_x0 0 ux1 x0 0 '-0.204243049717972*gu'
Gux1_x1 0 ux1 x1 0 '0.787257841208331*gu'
Gux1_x2 0 ux1 x2 0 '0.431370309483258*gu'
Gux1_x3 0 ux1 x3 0 '0.390422238344872*gu'
Gx0_ux1 x0 0 ux1 0 '-0.0216678909721266*gu'
Gx1_ux1 x1 0 ux1 0 '0.0835192046623309*gu'
Gx2_ux1 x2 0 ux1 0 '0.0457635393096724*gu'
Gx3_ux1 x3 0 ux1 0 '0.0414194094008672*gu'
Rux2 ux2 0 '1/(1*gu)'
Gux2_x0 0 ux2 x0 0 '0.600874311342356*gu'
Gux2_x1 0 ux2 x1 0 '0.417123157174833*gu'
Gux2_x2 0 ux2 x2 0 '-0.653363099526923*gu'
Gux2_x3 0 ux2 x3 0 '0.195128147364553*gu'
Gx0_ux2 x0 0 ux2 0 '-0.0378458726911553*gu'
Gx1_ux2 x1 0 ux2 0 '-0.0262723661254624*gu'
Gx2_ux2 x2 0 ux2 0 '0.0411518619102789*gu'
Gx3_ux2 x3 0 ux2 0 '-0.0122900827747523*gu'
Rux3 ux3 0 '1/(1*gu)'
Gux3_x0 0 ux3 x0 0 '0.563372594122874*gu'
Gux3_x1 0 ux3 x1 0 '-0.385254348766056*gu'
Gux3_x2 0 ux3 x2 0 '0.445256334908246*gu'
Gux3_x3 0 ux3 x3 0 '0.57960089990629*gu'
Gx0_ux3 x0 0 ux3 0 '-0.00264424899985687*gu'
Gx1_ux3 x1 0 ux3 0 '0.0018082321309953*gu'
Gx2_ux3 x2 0 ux3 0 '-0.00208985781442588*gu'
Gx3_ux3 x3 0 ux3 0 '-0.00272041827359299*gu'
.ends mod_enc
* --- module dec: 4 units
.subckt mod_dec
+ y0 y1 y2 y3
Xy0 y0 unit_rc
Xy1 y1 unit_rc
Xy2 y2 unit_rc
Xy3 y3 unit_rc
* --- self terms: conductance gu*M_ii (after bus corrections) to ground (resistor): 8 elements, 0 wire pairs, 0 bus nodes (all modules; this module's below)
Ry0 y0 0 '1/(0.2*gu)'
Ry1 y1 0 '1/(0.2*gu)'
Ry2 y2 0 '1/(0.2*gu)'
Ry3 y3 0 '1/(0.2*gu)'
* --- intra-module couplings, decoder (lowrank, rank 4): 36 elements, 16 wire pairs, 4 bus nodes
Ruy0 uy0 0 '1/(1*gu)'
Guy0_y0 0 uy0 y0 0 '-0.255822578909893*gu'
Guy0_y1 0 uy0 y1 0 '0.470878805031424*gu'
Guy0_y2 0 uy0 y2 0 '0.809399758016074*gu'
Guy0_y3 0 uy0 y3 0 '-0.240208223871688*gu'
Gy0_uy0 y0 0 uy0 0 '-0.402085449514374*gu'
Gy1_uy0 y1 0 uy0 0 '0.740096971872602*gu'
Gy2_uy0 y2 0 uy0 0 '1.27216239835245*gu'
Gy3_uy0 y3 0 uy0 0 '-0.377543812137538*gu'
Ruy1 uy1 0 '1/(1*gu)'
Guy1_y0 0 uy1 y0 0 '0.173228574699289*gu'
Guy1_y1 0 uy1 y1 0 '-0.788302463723579*gu'
Guy1_y2 0 uy1 y2 0 '0.564592805969306*gu'
Guy1_y3 0 uy1 y3 0 '0.172644287605163*gu'
Gy0_uy1 y0 0 uy1 0 '-0.0118068967130552*gu'
Gy1_uy1 y1 0 uy1 0 '0.0537290443218629*gu'
Gy2_uy1 y2 0 uy1 0 '-0.0384814627528132*gu'
Gy3_uy1 y3 0 uy1 0 '-0.0117670729288839*gu'
Ruy2 uy2 0 '1/(1*gu)'
Guy2_y0 0 uy2 y0 0 '0.160647895952835*gu'
Guy2_y1 0 uy2 y1 0 '0.331008921052746*gu'
Guy2_y2 0 uy2 y2 0 '0.131392796174019*gu'
Guy2_y3 0 uy2 y3 0 '0.920522286977885*gu'
Gy0_uy2 y0 0 uy2 0 '-0.0025058258292048*gu'
Gy1_uy2 y1 0 uy2 0 '-0.00516315946219867*gu'
Gy2_uy2 y2 0 uy2 0 '-0.00204949750802191*gu'
Gy3_uy2 y3 0 uy2 0 '-0.0143585355375279*gu'
Ruy3 uy3 0 '1/(1*gu)'
Guy3_y0 0 uy3 y0 0 '-0.937410754447308*gu'
Guy3_y1 0 uy3 y1 0 '-0.217452226576345*gu'
Guy3_y2 0 uy3 y2 0 '-0.0940368453575486*gu'
Guy3_y3 0 uy3 y3 0 '0.25521104662361*gu'
Gy0_uy3 y0 0 uy3 0 '-0.00491157226844295*gu'
Gy1_uy3 y1 0 uy3 0 '-0.00113934294085761*gu'
Gy2_uy3 y2 0 uy3 0 '-0.000492706916022431*gu'
Gy3_uy3 y3 0 uy3 0 '0.00133718062572887*gu'
.ends mod_dec
.subckt cpl_skip
+ x0 x1 x2 x3 y0 y1 y2 y3
* --- skip coupling (sharedbus, rank 2): 34 elements, 16 wire pairs, 2 bus nodes
Rsk0 sk0 0 '1/(1*gu)'
Gsk0_x0 0 sk0 x0 0 '0.304918271514889*gu'
Gsk0_x1 0 sk0 x1 0 '0.0945477169525385*gu'
Gsk0_x2 0 sk0 x2 0 '-0.528762106242512*gu'
Gsk0_x3 0 sk0 x3 0 '0.323404966525611*gu'
Gsk0_y0 0 sk0 y0 0 '-0.193864882490731*gu'
Gsk0_y1 0 sk0 y1 0 '0.576310767164557*gu'
Gsk0_y2 0 sk0 y2 0 '-0.265943309557984*gu'
Gsk0_y3 0 sk0 y3 0 '-0.271038562998676*gu'
Gx0_sk0 x0 0 sk0 0 '0.0389290528004675*gu'
Gx1_sk0 x1 0 sk0 0 '0.0120709495273041*gu'
Gx2_sk0 x2 0 sk0 0 '-0.0675072958092511*gu'
Gx3_sk0 x3 0 sk0 0 '0.0412892574631893*gu'
Gy0_sk0 y0 0 sk0 0 '-0.0247508166996466*gu'
Gy1_sk0 y1 0 sk0 0 '0.0735778547246928*gu'
Gy2_sk0 y2 0 sk0 0 '-0.0339531018862158*gu'
Gy3_sk0 y3 0 sk0 0 '-0.0346036151835626*gu'
Rsk1 sk1 0 '1/(1*gu)'
Gsk1_x0 0 sk1 x0 0 '0.116116663059918*gu'
Gsk1_x1 0 sk1 x1 0 '-0.0633109217616211*gu'
Gsk1_x2 0 sk1 x2 0 '0.659313797300619*gu'
Gsk1_x3 0 sk1 x3 0 '-0.268995828397888*gu'
Gsk1_y0 0 sk1 y0 0 '0.151751774631557*gu'
Gsk1_y1 0 sk1 y1 0 '-0.598401516528318*gu'
Gsk1_y2 0 sk1 y2 0 '-0.131126425062126*gu'
Gsk1_y3 0 sk1 y3 0 '-0.277755455936162*gu'
Gx0_sk1 x0 0 sk1 0 '0.00839866603881987*gu'
Gx1_sk1 x1 0 sk1 0 '-0.00457925050956148*gu'
Gx2_sk1 x2 0 sk1 0 '0.0476878705639061*gu'
Gx3_sk1 x3 0 sk1 0 '-0.0194563473408099*gu'
Gy0_sk1 y0 0 sk1 0 '0.0109761376390142*gu'
Gy1_sk1 y1 0 sk1 0 '-0.043282112678792*gu'
Gy2_sk1 y2 0 sk1 0 '-0.00948431537679355*gu'
Gy3_sk1 y3 0 sk1 0 '-0.0200899272627583*gu'
.ends cpl_skip
* --- instances: modules, then couplings
Xm_enc
+ x0 x1 x2 x3
+ mod_enc
Xm_dec
+ y0 y1 y2 y3
+ mod_dec
Xc_skip
+ x0 x1 x2 x3 y0 y1 y2 y3
+ cpl_skip
* --- bias: gu*Vs*b_i [A] into the force node
Ibias_x0 0 x0 PWL(0 '-1.47755679622214*gu*Vs'
+ 0.00153626340955462 '-1.47755679622214*gu*Vs' 0.00153629019063393 '1.91334870254686*gu*Vs'
+ )
Ibias_x1 0 x1 PWL(0 '-0.648102012710782*gu*Vs'
+ 0.00153626340955462 '-0.648102012710782*gu*Vs' 0.00153629019063393 '-1.01593597109204*gu*Vs'
+ )
Ibias_x2 0 x2 PWL(0 '0.573580543636529*gu*Vs'
+ 0.00153626340955462 '0.573580543636529*gu*Vs' 0.00153629019063393 '0.581367366364974*gu*Vs'
+ )
Ibias_x3 0 x3 PWL(0 '2.65080505981383*gu*Vs'
+ 0.00153626340955462 '2.65080505981383*gu*Vs' 0.00153629019063393 '1.10241377193079*gu*Vs'
+ )
Ibias_y0 0 y0 PWL(0 '0.55876349214973*gu*Vs'
+ 0.00153626340955462 '0.55876349214973*gu*Vs' 0.00153629019063393 '-1.53663375882545*gu*Vs'
+ )
Ibias_y1 0 y1 PWL(0 '0.0731344160289877*gu*Vs'
+ 0.00153626340955462 '0.0731344160289877*gu*Vs' 0.00153629019063393 '0.0795982933517428*gu*Vs'
+ )
Ibias_y2 0 y2 PWL(0 '-0.903647237612267*gu*Vs'
+ 0.00153626340955462 '-0.903647237612267*gu*Vs' 0.00153629019063393 '-0.0693329631989878*gu*Vs'
+ )
Ibias_y3 0 y3 PWL(0 '0.0932932404467304*gu*Vs'
+ 0.00153626340955462 '0.0932932404467304*gu*Vs' 0.00153629019063393 '-0.604628679658985*gu*Vs'
+ )
* --- thermal noise: off (circuit.noise: false)
.option delmax=2.67810793089624e-08
.tran 2.67810793089624e-08 0.00307252681910924 uic
* --- read-out as .measure cards (circuit.readout_cards: measure): the same averages and RMS over the same windows
.measure tran avg_y0_s0 AVG v(y0) from=5.12891924372253e-05 to=0.00153626340955462
.measure tran rms_y0_s0 RMS v(y0) from=5.12891924372253e-05 to=0.00153626340955462
.measure tran avg_y1_s0 AVG v(y1) from=5.12891924372253e-05 to=0.00153626340955462
.measure tran rms_y1_s0 RMS v(y1) from=5.12891924372253e-05 to=0.00153626340955462
.measure tran avg_y2_s0 AVG v(y2) from=5.12891924372253e-05 to=0.00153626340955462
.measure tran rms_y2_s0 RMS v(y2) from=5.12891924372253e-05 to=0.00153626340955462
.measure tran avg_y3_s0 AVG v(y3) from=5.12891924372253e-05 to=0.00153626340955462
.measure tran rms_y3_s0 RMS v(y3) from=5.12891924372253e-05 to=0.00153626340955462
.measure tran avg_y0_s1 AVG v(y0) from=0.00158755260199185 to=0.00307252681910924
.measure tran rms_y0_s1 RMS v(y0) from=0.00158755260199185 to=0.00307252681910924
.measure tran avg_y1_s1 AVG v(y1) from=0.00158755260199185 to=0.00307252681910924
.measure tran rms_y1_s1 RMS v(y1) from=0.00158755260199185 to=0.00307252681910924
.measure tran avg_y2_s1 AVG v(y2) from=0.00158755260199185 to=0.00307252681910924
.measure tran rms_y2_s1 RMS v(y2) from=0.00158755260199185 to=0.00307252681910924
.measure tran avg_y3_s1 AVG v(y3) from=0.00158755260199185 to=0.00307252681910924
.measure tran rms_y3_s1 RMS v(y3) from=0.00158755260199185 to=0.00307252681910924
.end
