* tdi-gen standalone netlist: thermodynamic diffusion inference substrate (HSPICE)
* preset t | bundle build/test-gen-dialect/tiny/substrate (hash 3913f458c6079d73, mode synthetic) | config test.yaml (circuit hash f952e9390e12f925)
* D = 2 per module (N = 4 units), k = 1 | unit rc | intra lowrank (rank 2, 2) | skip sharedbus
* wire pairs: intra_enc 4, intra_dec 4, skip 4 (dense skip D^2 = 4, ratio 1); total 12 pairs, 33 coupling elements
* physics: tau = Cu/gu = 1e-06 s, theta = kB T/(Cu Vs^2) = 0.1, kT/C = 4.14195e-09 V^2 (6.4358e-05 V rms), Vs = 0.000203518 V/unit
* lambda(M) in [0.251784, 2.47146]; slowest relaxation 3.97166e-06 s, fastest 4.0462e-07 s; noise interval 2.0231e-08 s
* per sample: settle 2.74353e-05 s then average 7.94332e-05 s; 2 sample(s) from t = 0 (nodes start at 0 V: uic)
* nodes: x0..x1 encoder, y0..y1 decoder (volts = Vs * state)
* run: hspice <this file>; the .measure results avg_<node>_s<n> (time average, V) and rms_<node>_s<n> per sample go to <this file's base name>.mt0
* expected (equilibrium mean Vs*(M^-1 b)_i, std of the average, std of the node) per read-out node and sample:
*   avg_y0_s0 = -0.000153281 V  +- 2.95e-05 V (readout std)  node std 9.99e-05 V
*   avg_y1_s0 = -0.000106864 V  +- 2.38e-05 V (readout std)  node std 8.46e-05 V
*   avg_y0_s1 = -0.000160842 V  +- 2.95e-05 V (readout std)  node std 9.99e-05 V
*   avg_y1_s1 = -0.000138017 V  +- 2.38e-05 V (readout std)  node std 8.46e-05 V
* hierarchy (circuit.hier): one .subckt per module (ports: its units' nodes; inside: unit instances, self terms, intra couplings) and per coupling (ports: the unit nodes it touches; inside: its bus nodes, v(<instance>.<bus>))
*   mod_enc = module enc: units x0..x1, U-Net level 1 encoder (intra lowrank); instance Xm_enc
*   mod_dec = module dec: units y0..y1, U-Net level 1 decoder (read out) (intra lowrank); instance Xm_dec
*   cpl_skip = coupling skip between modules enc and dec (sharedbus, rank 1); instance Xc_skip
* values (circuit.param): conductances {m*gu}, resistors {1/(m*gu)}, biases {b*gu*Vs} with m, b in simulation units; edit Cu, gu, Vs or Tk here and every element follows. Times (.tran, windows, nt) are absolute: after a change of tau = Cu/gu regenerate them with tdi-gen
.param Cu=1e-12 gu=1e-06 Vs=0.000203517738784608 Tk=300 kB=1.380649e-23
.param tau='Cu/gu' theta='kB*Tk/(Cu*Vs*Vs)' nt=2.02309777607403e-08 gn='gu*1' na='sqrt(2*kB*Tk*gn/nt)'
.subckt unit_rc x
C1 x 0 'Cu'
.ends unit_rc
* --- module enc: 2 units
.subckt mod_enc
+ x0 x1
Xx0 x0 unit_rc
Xx1 x1 unit_rc
* --- self terms: conductance gu*M_ii (after bus corrections) to ground (resistor): 4 elements, 0 wire pairs, 0 bus nodes (all modules; this module's below)
Rx0 x0 0 '1/(0.2*gu)'
Rx1 x1 0 '1/(0.2*gu)'
* --- intra-module couplings, encoder (lowrank, rank 2): 10 elements, 4 wire pairs, 2 bus nodes
Rux0 ux0 0 '1/(1*gu)'
Gux0_x0 0 ux0 x0 0 '-0.282916687203128*gu'
Gux0_x1 0 ux0 x1 0 '0.959144487604452*gu'
Gx0_ux0 x0 0 ux0 0 '-0.640818966827284*gu'
Gx1_ux0 x1 0 ux0 0 '2.17250521933149*gu'
Rux1 ux1 0 '1/(1*gu)'
Gux1_x0 0 ux1 x0 0 '-0.959144487604452*gu'
Gux1_x1 0 ux1 x1 0 '-0.282916687203128*gu'
Gx0_ux1 x0 0 ux1 0 '0.0273244540232808*gu'
Gx1_ux1 x1 0 ux1 0 '0.00805983260270671*gu'
.ends mod_enc
* --- module dec: 2 units
.subckt mod_dec
+ y0 y1
Xy0 y0 unit_rc
Xy1 y1 unit_rc
* --- self terms: conductance gu*M_ii (after bus corrections) to ground (resistor): 4 elements, 0 wire pairs, 0 bus nodes (all modules; this module's below)
Ry0 y0 0 '1/(0.2*gu)'
Ry1 y1 0 '1/(0.2*gu)'
* --- intra-module couplings, decoder (lowrank, rank 2): 10 elements, 4 wire pairs, 2 bus nodes
Ruy0 uy0 0 '1/(1*gu)'
Guy0_y0 0 uy0 y0 0 '0.623024831158204*gu'
Guy0_y1 0 uy0 y1 0 '-0.782202058141176*gu'
Gy0_uy0 y0 0 uy0 0 '1.17208602860872*gu'
Gy1_uy0 y1 0 uy0 0 '-1.47154344104056*gu'
Ruy1 uy1 0 '1/(1*gu)'
Guy1_y0 0 uy1 y0 0 '-0.782202058141176*gu'
Guy1_y1 0 uy1 y1 0 '-0.623024831158204*gu'
Gy0_uy1 y0 0 uy1 0 '-0.0552795035954049*gu'
Gy1_uy1 y1 0 uy1 0 '-0.0440301876421559*gu'
.ends mod_dec
.subckt cpl_skip
+ x0 x1 y0 y1
* --- skip coupling (sharedbus, rank 1): 9 elements, 4 wire pairs, 1 bus nodes
Rsk0 sk0 0 '1/(1*gu)'
Gsk0_x0 0 sk0 x0 0 '-0.705265399035503*gu'
Gsk0_x1 0 sk0 x1 0 '-0.0509972246626562*gu'
Gsk0_y0 0 sk0 y0 0 '-0.522901970061508*gu'
Gsk0_y1 0 sk0 y1 0 '0.475997405146072*gu'
Gx0_sk0 x0 0 sk0 0 '-0.1410530798071*gu'
Gx1_sk0 x1 0 sk0 0 '-0.0101994449325312*gu'
Gy0_sk0 y0 0 sk0 0 '-0.104580394012302*gu'
Gy1_sk0 y1 0 sk0 0 '0.0951994810292143*gu'
.ends cpl_skip
* --- instances: modules, then couplings
Xm_enc
+ x0 x1
+ mod_enc
Xm_dec
+ y0 y1
+ mod_dec
Xc_skip
+ x0 x1 y0 y1
+ cpl_skip
* --- bias: gu*Vs*b_i [A] into the force node
Ibias_x0 0 x0 PWL(0 '0.236557322944267*gu*Vs'
+ 0.000106868475359776 '0.236557322944267*gu*Vs' 0.000106888706337537 '-0.0611739807790729*gu*Vs'
+ )
Ibias_x1 0 x1 PWL(0 '0.587037891433958*gu*Vs'
+ 0.000106868475359776 '0.587037891433958*gu*Vs' 0.000106888706337537 '0.396989594287246*gu*Vs'
+ )
Ibias_y0 0 y0 PWL(0 '-0.175329463088098*gu*Vs'
+ 0.000106868475359776 '-0.175329463088098*gu*Vs' 0.000106888706337537 '-0.164170573130879*gu*Vs'
+ )
Ibias_y1 0 y1 PWL(0 '-0.145311023517077*gu*Vs'
+ 0.000106868475359776 '-0.145311023517077*gu*Vs' 0.000106888706337537 '-0.243664290014811*gu*Vs'
+ )
* --- thermal noise: off (circuit.noise: false)
.option delmax=2.02309777607403e-08
.tran 2.02309777607403e-08 0.000213736950719553 uic
* --- read-out as .measure cards (circuit.readout_cards: measure): the same averages and RMS over the same windows
.measure tran avg_y0_s0 AVG v(y0) from=2.74352604730242e-05 to=0.000106868475359776
.measure tran rms_y0_s0 RMS v(y0) from=2.74352604730242e-05 to=0.000106868475359776
.measure tran avg_y1_s0 AVG v(y1) from=2.74352604730242e-05 to=0.000106868475359776
.measure tran rms_y1_s0 RMS v(y1) from=2.74352604730242e-05 to=0.000106868475359776
.measure tran avg_y0_s1 AVG v(y0) from=0.000134303735832801 to=0.000213736950719553
.measure tran rms_y0_s1 RMS v(y0) from=0.000134303735832801 to=0.000213736950719553
.measure tran avg_y1_s1 AVG v(y1) from=0.000134303735832801 to=0.000213736950719553
.measure tran rms_y1_s1 RMS v(y1) from=0.000134303735832801 to=0.000213736950719553
.end
