import astropy.units as u
import numpy as np

from unite_stan import continuum, line, model, plot, results, spectrum
from unite_stan.instrument.generic import SimpleDisperser

# Your spectrum: pixel centres, flux and 1-sigma error (here simulated: Hα and [NII] at z = 0.01)
wave = np.linspace(6500.0, 6750.0, 500) * u.AA
peaks = [(5.0, 6630.3), (1.5, 6651.1), (0.5, 6615.4)]  # (amplitude, observed centre in Å)
lines_flux = sum(a * np.exp(-0.5 * ((wave.value - c) / 2.6) ** 2) for a, c in peaks)
flux = 1.0 + lines_flux + np.random.default_rng(1).normal(0.0, 0.1, wave.size)
unit = 1e-17 * u.erg / u.s / u.cm**2 / u.AA
grism = SimpleDisperser(wave, R=3000.0, name="grism")
spec = spectrum.from_centers(wave, flux * unit, np.full(wave.size, 0.1) * unit, grism)

# The model: three lines sharing one redshift and one width ([NII] fixed at 1:3), a linear
# continuum around them
z, fwhm = line.Redshift("narrow"), line.FWHM("narrow")
lines = line.LineConfiguration()
lines.add_line("Ha", 6564.61 * u.AA, redshift=z, fwhm_gauss=fwhm, flux=line.Flux())
nii = [6549.86, 6585.27] * u.AA
lines.add_lines("NII", nii, redshift=z, fwhm_gauss=fwhm, flux=line.Flux(), strength=[1, 3])
cont = continuum.ContinuumConfiguration.from_lines(lines.centers, form=continuum.Linear())
spectra = spectrum.Spectra([spec], redshift=0.01)
lines, cont = spectra.prepare(lines, cont)
spectra.compute_scales(lines, cont)

samples, args = model.ModelBuilder(lines, cont, spectra).fit(num_chains=4, progress_bar=False)
results.summary(args).pprint_all()  # medians, 90 % intervals, R-hat, ESS; fluxes in erg/s/cm^2
results.make_hdul(samples, args, percentiles=[0.16, 0.5, 0.84]).writeto("first_fit.fits")
plot.plot_fit(samples, args)[0].savefig("first_fit.png")
