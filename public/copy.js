// Copy buttons on the "key created" page: no inline script (the CSP forbids it).
for (const button of document.querySelectorAll('button[data-copy]')) {
  button.addEventListener('click', async () => {
    const text = document.getElementById(button.dataset.copy).textContent
    await navigator.clipboard.writeText(text)
    const label = button.textContent
    button.textContent = 'Copied'
    setTimeout(() => { button.textContent = label }, 1500)
  })
}
